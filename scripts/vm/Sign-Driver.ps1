<#
.SYNOPSIS
  Step 3: test-sign fltbridge.sys with the certificate from New-TestCertificate.ps1.
.PARAMETER Path
  The driver to sign: the WDK build (build\driver-wdk\Release\fltbridge.sys) or the Linux build
  copied over (build\driver\fltbridge.sys). A copy signed on Linux with osslsigncode
  (build\driver\signed\fltbridge.sys) also loads under TESTSIGNING and needs no signing here.
#>
param([Parameter(Mandatory = $true)][string]$Path)
. (Join-Path $PSScriptRoot 'common.ps1')
Assert-Admin

$signtool = Find-SignTool
if (-not $signtool) { throw 'signtool.exe not found: restore driver\packages.config (nuget) or install the Windows SDK.' }
$thumb = (Get-Content (Join-Path $FbWork 'thumbprint.txt')).Trim()
& $signtool sign /fd sha256 /sha1 $thumb /s My /sm $Path | Out-Host
if ($LASTEXITCODE -ne 0) { throw "signtool sign failed ($LASTEXITCODE)" }
& $signtool verify /pa /v $Path | Out-Host
