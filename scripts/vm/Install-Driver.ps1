<#
.SYNOPSIS
  Step 4: install fltbridge as a file-system filter service and load it (fltmc load).
.DESCRIPTION
  Installs by service and registry (no catalog needed): copies the driver to
  %SystemRoot%\System32\drivers, creates the service in the "FSFilter Activity Monitor" group
  depending on FltMgr, writes the Instances keys (owner = default instance, watch instance just
  above it), loads the filter and shows fltmc filters / instances.
.PARAMETER Path
  The signed fltbridge.sys.
#>
param([Parameter(Mandatory = $true)][string]$Path)
. (Join-Path $PSScriptRoot 'common.ps1')
Assert-Admin

$target = Join-Path $env:SystemRoot "System32\drivers\$FbService.sys"
if ((fltmc filters) -match "^$FbService\s") { fltmc unload $FbService | Out-Host }
Copy-Item -Force $Path $target

if (-not (Get-Service $FbService -ErrorAction SilentlyContinue)) {
    sc.exe create $FbService type= filesys start= demand error= normal binPath= "System32\drivers\$FbService.sys" group= "$FbGroup" depend= FltMgr DisplayName= "fltbridge" | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "sc create failed ($LASTEXITCODE)" }
}

$key = "HKLM:\SYSTEM\CurrentControlSet\Services\$FbService\Instances"
New-Item -Force -Path $key | Out-Null
Set-ItemProperty -Path $key -Name DefaultInstance -Value $FbOwnerInstance
New-Item -Force -Path "$key\$FbOwnerInstance" | Out-Null
Set-ItemProperty -Path "$key\$FbOwnerInstance" -Name Altitude -Value $FbOwnerAltitude
Set-ItemProperty -Path "$key\$FbOwnerInstance" -Name Flags -Value 0 -Type DWord
New-Item -Force -Path "$key\$FbWatchInstance" | Out-Null
Set-ItemProperty -Path "$key\$FbWatchInstance" -Name Altitude -Value $FbWatchAltitude
Set-ItemProperty -Path "$key\$FbWatchInstance" -Name Flags -Value 1 -Type DWord

fltmc load $FbService | Out-Host
if ($LASTEXITCODE -ne 0) { throw "fltmc load failed ($LASTEXITCODE): see Collect-CrashDumps.ps1 and the System event log" }
fltmc filters | Out-Host
fltmc instances -f $FbService | Out-Host
