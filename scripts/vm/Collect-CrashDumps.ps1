<#
.SYNOPSIS
  Gathers what explains a failure into C:\fltbridge\evidence-<time>.zip: MEMORY.DMP and
  minidumps, BugCheck events from the System log, verifier /query, fltmc state, the driver's
  service key.
#>
. (Join-Path $PSScriptRoot 'common.ps1')
Assert-Admin

$stamp = Get-Date -Format 'yyyyMMdd-HHmmss'
$dir = Join-Path $FbWork "evidence-$stamp"
New-Item -ItemType Directory -Force -Path $dir | Out-Null

$memory = Join-Path $env:SystemRoot 'MEMORY.DMP'
if (Test-Path $memory) { Copy-Item $memory $dir }
$mini = Join-Path $env:SystemRoot 'Minidump'
if (Test-Path $mini) { Copy-Item -Recurse $mini (Join-Path $dir 'Minidump') }

Get-WinEvent -FilterHashtable @{ LogName = 'System'; Id = 1001 } -MaxEvents 20 -ErrorAction SilentlyContinue |
    Where-Object { $_.ProviderName -match 'WER-SystemErrorReporting|BugCheck' } |
    Format-List TimeCreated, Message | Out-File (Join-Path $dir 'bugchecks.txt')
Get-WinEvent -FilterHashtable @{ LogName = 'System'; ProviderName = 'Microsoft-Windows-FilterManager' } -MaxEvents 50 -ErrorAction SilentlyContinue |
    Format-List TimeCreated, Id, Message | Out-File (Join-Path $dir 'filtermanager-events.txt')
verifier /query 2>&1 | Out-File (Join-Path $dir 'verifier-query.txt')
fltmc filters 2>&1 | Out-File (Join-Path $dir 'fltmc-filters.txt')
fltmc instances 2>&1 | Out-File (Join-Path $dir 'fltmc-instances.txt')
reg export "HKLM\SYSTEM\CurrentControlSet\Services\$FbService" (Join-Path $dir 'service.reg') /y | Out-Null

Compress-Archive -Path "$dir\*" -DestinationPath "$dir.zip" -Force
Write-Host "Evidence in $dir.zip (open MEMORY.DMP with WinDbg: !analyze -v, !fltkd.filters, !verifier)"
