#!powershell
# Socle: read-only, the newest snapshot of this host in a restic repository (Windows). Returns
# restic's raw JSON and exit code; the age is decided on the controller by module_utils/socle_restic.py,
# the same code as on Linux. Documentation: socle_win_restic_snapshots.py.

#AnsibleRequires -CSharpUtil Ansible.Basic
#Requires -Module Ansible.ModuleUtils.ArgvParser
#Requires -Module Ansible.ModuleUtils.CommandUtil

$spec = @{
    options = @{
        restic = @{ type = 'path'; required = $true }
        repository = @{ type = 'str'; required = $true }
        password_file = @{ type = 'path'; required = $true }
        options = @{ type = 'list'; elements = 'str'; default = @() }
        hostname = @{ type = 'str'; required = $true }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

if (-not (Test-Path -LiteralPath $module.Params.restic -PathType Leaf)) {
    $module.Result.restic_missing = $true
    $module.ExitJson()
}
$module.Result.restic_missing = $false
if (-not (Test-Path -LiteralPath $module.Params.password_file -PathType Leaf)) {
    $module.Result.password_missing = $true
    $module.ExitJson()
}

# No lock and no cache: reading never blocks a running backup nor leaves files behind.
$argv = @($module.Params.restic, '-r', $module.Params.repository, '--password-file', $module.Params.password_file)
foreach ($option in $module.Params.options) {
    $argv += @('-o', $option)
}
$argv += @('snapshots', '--json', '--latest', '1', '--host', $module.Params.hostname, '--no-lock', '--no-cache')
$run = Run-Command -command (Argv-ToString -arguments $argv)
$module.Result.rc = $run.rc
$module.Result.stdout = $run.stdout
$module.Result.stderr = $run.stderr
$module.ExitJson()
