<#
.SYNOPSIS
  Step 2: create a throwaway code-signing certificate and trust it on this VM only.
.DESCRIPTION
  Creates "CN=fltbridge test signing" in LocalMachine\My, and adds its public part to
  LocalMachine\Root and LocalMachine\TrustedPublisher. Writes the .cer to C:\fltbridge\.
  Never use this certificate outside a test VM.
#>
. (Join-Path $PSScriptRoot 'common.ps1')
Assert-Admin

New-Item -ItemType Directory -Force -Path $FbWork | Out-Null
$existing = Get-ChildItem Cert:\LocalMachine\My | Where-Object { $_.Subject -eq 'CN=fltbridge test signing' }
if ($existing) {
    $cert = $existing | Select-Object -First 1
    Write-Host "Reusing certificate $($cert.Thumbprint)"
} else {
    $cert = New-SelfSignedCertificate -Type CodeSigningCert -Subject 'CN=fltbridge test signing' `
        -CertStoreLocation Cert:\LocalMachine\My -KeyUsage DigitalSignature -HashAlgorithm sha256 `
        -NotAfter (Get-Date).AddYears(1)
    Write-Host "Created certificate $($cert.Thumbprint)"
}
$cer = Join-Path $FbWork 'fltbridge-test.cer'
Export-Certificate -Cert $cert -FilePath $cer | Out-Null
Import-Certificate -FilePath $cer -CertStoreLocation Cert:\LocalMachine\Root | Out-Null
Import-Certificate -FilePath $cer -CertStoreLocation Cert:\LocalMachine\TrustedPublisher | Out-Null
Set-Content -Path (Join-Path $FbWork 'thumbprint.txt') -Value $cert.Thumbprint
Write-Host "Trusted on this machine; thumbprint saved to $FbWork\thumbprint.txt"
