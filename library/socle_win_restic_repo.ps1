#!powershell
# Socle: initialise a restic repository when it does not exist yet (Windows). Documentation:
# socle_win_restic_repo.py. Decides on restic's exit codes only, never on its text.

#AnsibleRequires -CSharpUtil Ansible.Basic
#Requires -Module Ansible.ModuleUtils.ArgvParser
#Requires -Module Ansible.ModuleUtils.CommandUtil

$spec = @{
    options = @{
        restic = @{ type = 'path'; required = $true }
        repository = @{ type = 'str'; required = $true }
        password_file = @{ type = 'path'; required = $true }
        options = @{ type = 'list'; elements = 'str'; default = @() }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

# restic 0.17 and later: exit code 10 = the repository does not exist.
$RESTIC_NO_REPOSITORY = 10

$base = @('-r', $module.Params.repository, '--password-file', $module.Params.password_file, '--no-cache')
foreach ($option in $module.Params.options) {
    $base += @('-o', $option)
}

if (-not (Test-Path -LiteralPath $module.Params.restic -PathType Leaf)) {
    if ($module.CheckMode) {
        # A fresh host in check mode: restic is not installed yet, so the repository is not there either.
        $module.Result.changed = $true
        $module.Result.state = 'restic_missing'
        $module.ExitJson()
    }
    $module.FailJson("restic is not installed at $($module.Params.restic)")
}
if ($module.CheckMode -and -not (Test-Path -LiteralPath $module.Params.password_file -PathType Leaf)) {
    # Check mode before the password file is written: the repository cannot be opened yet.
    $module.Result.changed = $true
    $module.Result.state = 'password_missing'
    $module.ExitJson()
}

$probe = Run-Command -command (Argv-ToString -arguments (@($module.Params.restic) + $base + @('cat', 'config')))
if ($probe.rc -eq 0) {
    $module.Result.state = 'exists'
    $module.ExitJson()
}
if ($probe.rc -ne $RESTIC_NO_REPOSITORY) {
    $module.Result.rc = $probe.rc
    $module.FailJson("restic could not open the repository (exit code $($probe.rc)): $($probe.stderr.Trim())")
}
$module.Result.changed = $true
$module.Result.state = 'created'
if (-not $module.CheckMode) {
    $init = Run-Command -command (Argv-ToString -arguments (@($module.Params.restic) + $base + @('init')))
    if ($init.rc -ne 0) {
        $module.Result.rc = $init.rc
        $module.FailJson("restic init failed (exit code $($init.rc)): $($init.stderr.Trim())")
    }
}
$module.ExitJson()
