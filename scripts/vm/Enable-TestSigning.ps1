<#
.SYNOPSIS
  Step 1 on a fresh VM: turn on TESTSIGNING so a test-signed fltbridge.sys can load.
.DESCRIPTION
  Secure Boot must be off (it blocks TESTSIGNING): on Hyper-V, Settings > Security > untick
  "Enable Secure Boot"; on QEMU/KVM use an OVMF build without enrolled keys, or SeaBIOS.
  Reboots unless -NoReboot. Reference: learn.microsoft.com, "The TESTSIGNING boot
  configuration option".
#>
param([switch]$NoReboot)
. (Join-Path $PSScriptRoot 'common.ps1')
Assert-Admin

try {
    if (Confirm-SecureBootUEFI) {
        throw 'Secure Boot is on: turn it off in the VM settings first (TESTSIGNING is ignored under Secure Boot).'
    }
} catch [System.PlatformNotSupportedException] {
    Write-Host 'Legacy BIOS VM: no Secure Boot to turn off.'
}

bcdedit /set testsigning on | Out-Host
if ($LASTEXITCODE -ne 0) { throw "bcdedit failed ($LASTEXITCODE)" }
Write-Host 'TESTSIGNING is on after the next boot ("Test Mode" shows on the desktop).'
if (-not $NoReboot) { Restart-Computer -Force }
