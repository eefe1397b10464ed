<#
.SYNOPSIS
  Unloads fltbridge (fltmc unload) and deletes its service.
#>
. (Join-Path $PSScriptRoot 'common.ps1')
Assert-Admin
if ((fltmc filters) -match "^$FbService\s") { fltmc unload $FbService | Out-Host }
if (Get-Service $FbService -ErrorAction SilentlyContinue) { sc.exe delete $FbService | Out-Host }
Remove-Item -Force -ErrorAction SilentlyContinue (Join-Path $env:SystemRoot "System32\drivers\$FbService.sys")
