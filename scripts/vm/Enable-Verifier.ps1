<#
.SYNOPSIS
  Step 5: Driver Verifier (standard settings) on fltbridge.sys; Filter Verifier comes with it
  for minifilters. Takes effect after a reboot (unless -NoReboot). -Off turns it off again.
.DESCRIPTION
  Reference: learn.microsoft.com, "Driver Verifier" and "File System Filter Verification".
#>
param([switch]$Off, [switch]$NoReboot)
. (Join-Path $PSScriptRoot 'common.ps1')
Assert-Admin
if ($Off) {
    verifier /reset | Out-Host
} else {
    verifier /standard /driver "$FbService.sys" | Out-Host
}
verifier /querysettings | Out-Host
if (-not $NoReboot) { Restart-Computer -Force }
