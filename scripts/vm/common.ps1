# Shared settings of the fltbridge VM scripts (dot-sourced by the others).
# These scripts run on a Windows VM (Secure Boot off), in an elevated PowerShell.
# They cannot run on the Linux machines the project is developed on.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$FbService = 'fltbridge'
$FbGroup = 'FSFilter Activity Monitor'
$FbOwnerInstance = 'FltBridge Instance'
$FbOwnerAltitude = '370030'
$FbWatchInstance = 'FltBridge Watch Instance'
$FbWatchAltitude = '370040'
$FbRepo = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path
$FbWork = Join-Path $env:SystemDrive 'fltbridge'

function Assert-Admin {
    $principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw 'Run this script from an elevated PowerShell (Run as administrator).'
    }
}

function Find-SignTool {
    $candidates = @()
    $candidates += Get-ChildItem -Path (Join-Path $FbRepo 'driver\packages') -Recurse -Filter signtool.exe -ErrorAction SilentlyContinue |
        Where-Object { $_.FullName -match '\\x64\\' }
    $candidates += Get-ChildItem -Path "${env:ProgramFiles(x86)}\Windows Kits\10\bin" -Recurse -Filter signtool.exe -ErrorAction SilentlyContinue |
        Where-Object { $_.FullName -match '\\x64\\' }
    if ($candidates.Count -eq 0) { return $null }
    return ($candidates | Sort-Object FullName -Descending | Select-Object -First 1).FullName
}
