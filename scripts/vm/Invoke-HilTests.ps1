<#
.SYNOPSIS
  Step 6: the hardware-in-the-loop suite against the loaded driver:
  npx vitest run test/hil with FLTBRIDGE_BACKEND=windows.
.DESCRIPTION
  Needs Node 20 and a checkout of the repository with npm ci done, and the driver loaded
  (Install-Driver.ps1). Writes the vitest output and fltmc/verifier state to C:\fltbridge\hil.
#>
param([string]$Repo = $FbRepo)
. (Join-Path $PSScriptRoot 'common.ps1')
Assert-Admin

$out = Join-Path $FbWork 'hil'
New-Item -ItemType Directory -Force -Path $out | Out-Null
fltmc filters | Out-File (Join-Path $out 'fltmc-filters.txt')
fltmc instances -f $FbService | Out-File (Join-Path $out 'fltmc-instances.txt')

Push-Location $Repo
try {
    $env:FLTBRIDGE_BACKEND = 'windows'
    npx vitest run test/hil --reporter=default --reporter=json --outputFile.json=(Join-Path $out 'hil.json') 2>&1 |
        Tee-Object -FilePath (Join-Path $out 'hil.txt')
    $code = $LASTEXITCODE
} finally {
    Pop-Location
    Remove-Item Env:\FLTBRIDGE_BACKEND -ErrorAction SilentlyContinue
}
verifier /query | Out-File (Join-Path $out 'verifier-query.txt')
if ($code -ne 0) { throw "HIL suite failed ($code); run Collect-CrashDumps.ps1" }
