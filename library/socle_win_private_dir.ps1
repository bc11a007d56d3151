#!powershell
# Socle: a folder only SYSTEM and the Administrators can read, for the backup passwords and key.
# Documentation: socle_win_private_dir.py. Check mode and diff: the access rules are compared as SDDL.

#AnsibleRequires -CSharpUtil Ansible.Basic

$spec = @{
    options = @{
        path = @{ type = 'path'; required = $true }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false
$path = $module.Params.path

# Protected (no inheritance from C:\ProgramData, whose Users may read), full control for SYSTEM (SY)
# and Administrators (BA), inherited by every file and subfolder (OICI). SIDs, never localised names.
$wanted = 'D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)'

$current = $null
if (Test-Path -LiteralPath $path -PathType Container) {
    $current = (Get-Acl -LiteralPath $path).GetSecurityDescriptorSddlForm('Access')
}
$module.Result.sddl = $current
$module.Diff.before = @{ path = $path; sddl = $current }
$module.Diff.after = @{ path = $path; sddl = $wanted }

if ($current -ne $wanted) {
    $module.Result.changed = $true
    if (-not $module.CheckMode) {
        if ($null -eq $current) {
            $null = New-Item -Path $path -ItemType Directory -Force
        }
        $acl = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
        $acl.SetSecurityDescriptorSddlForm($wanted, 'Access')
        Set-Acl -LiteralPath $path -AclObject $acl
        $module.Result.sddl = $wanted
    }
}
$module.ExitJson()
