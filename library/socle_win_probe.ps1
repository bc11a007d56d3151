#!powershell
# Socle: read-only probe of a Windows host. Returns raw values only (CIM properties, registry data,
# a secedit export, Windows Update Agent numbers); every decision is made on the controller by
# module_utils/socle_windows.py, where it is unit-tested. Documentation: socle_win_probe.py.

#AnsibleRequires -CSharpUtil Ansible.Basic

$spec = @{
    options = @{
        sections = @{
            type = 'list'
            elements = 'str'
            required = $true
            choices = @('identity', 'system', 'defender', 'av_products', 'firewall', 'rsop', 'secedit', 'users', 'wu_history', 'wu_pending', 'profiles', 'firewall_rules', 'admins', 'audit_policy', 'laps')
        }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false
$probe = @{}

function Get-DateText($value) {
    # ISO 8601 in UTC, whatever the host's culture; $null stays $null. CIM dates are local times.
    if ($null -eq $value) { return $null }
    return ([datetime]$value).ToUniversalTime().ToString('o')
}

function Get-UtcDateText($value) {
    # The Windows Update Agent already gives UTC, without saying so: mark it, do not convert it.
    if ($null -eq $value) { return $null }
    return [datetime]::SpecifyKind([datetime]$value, [System.DateTimeKind]::Utc).ToString('o')
}

foreach ($section in $module.Params.sections) {
    switch ($section) {
        'identity' {
            $current = [System.Security.Principal.WindowsIdentity]::GetCurrent()
            $probe.identity = @{
                user_sid = $current.User.Value
                group_sids = @($current.Groups | ForEach-Object { $_.Value })
            }
        }
        'system' {
            $cs = Get-CimInstance -ClassName Win32_ComputerSystem -Property PartOfDomain
            $os = Get-CimInstance -ClassName Win32_OperatingSystem -Property @('ProductType', 'Version')
            $ntVersion = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
            $probe.system = @{
                edition_id = [string]$ntVersion.EditionID
                current_build = [string]$ntVersion.CurrentBuild
                ubr = $ntVersion.UBR
                display_version = [string]$ntVersion.DisplayVersion
                part_of_domain = [bool]$cs.PartOfDomain
                product_type = [int]$os.ProductType
                reboot_pending = (Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired')
            }
            # The facts the roles dispatch on, as socle_facts gives them on Linux.
            $module.Result.ansible_facts = @{
                socle = @{
                    os_family = 'Windows'
                    platform = "Windows $($os.Version)"
                    part_of_domain = [bool]$cs.PartOfDomain
                    product_type = [int]$os.ProductType
                }
            }
        }
        'defender' {
            $status = Get-CimInstance -Namespace 'root/Microsoft/Windows/Defender' -ClassName MSFT_MpComputerStatus -ErrorAction SilentlyContinue
            $preference = Get-CimInstance -Namespace 'root/Microsoft/Windows/Defender' -ClassName MSFT_MpPreference -ErrorAction SilentlyContinue
            $pua = $null
            if ($null -ne $preference) { $pua = [int]$preference.PUAProtection }
            if ($null -eq $status) {
                $probe.defender = $null
            }
            else {
                $probe.defender = @{
                    AMRunningMode = $status.AMRunningMode
                    AMServiceEnabled = $status.AMServiceEnabled
                    AntivirusEnabled = $status.AntivirusEnabled
                    RealTimeProtectionEnabled = $status.RealTimeProtectionEnabled
                    IoavProtectionEnabled = $status.IoavProtectionEnabled
                    OnAccessProtectionEnabled = $status.OnAccessProtectionEnabled
                    BehaviorMonitorEnabled = $status.BehaviorMonitorEnabled
                    IsTamperProtected = $status.IsTamperProtected
                    DefenderSignaturesOutOfDate = $status.DefenderSignaturesOutOfDate
                    AntivirusSignatureAge = $status.AntivirusSignatureAge
                    AntivirusSignatureVersion = $status.AntivirusSignatureVersion
                    AntivirusSignatureLastUpdated = Get-DateText $status.AntivirusSignatureLastUpdated
                    PUAProtection = $pua
                }
            }
        }
        'av_products' {
            # Client editions only; Windows Server has no SecurityCenter2 namespace.
            $probe.av_products = @(Get-CimInstance -Namespace 'root/SecurityCenter2' -ClassName AntivirusProduct -ErrorAction SilentlyContinue |
                    Select-Object -Property @('displayName', 'instanceGuid', 'pathToSignedProductExe', 'productState'))
        }
        'firewall' {
            $probe.firewall = @(Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {
                    @{
                        Name = [string]$_.Name
                        Enabled = [int]$_.Enabled
                        DefaultInboundAction = [int]$_.DefaultInboundAction
                        DefaultOutboundAction = [int]$_.DefaultOutboundAction
                        LogBlocked = [int]$_.LogBlocked
                        LogAllowed = [int]$_.LogAllowed
                        LogMaxSizeKilobytes = [int]$_.LogMaxSizeKilobytes
                    }
                })
        }
        'firewall_rules' {
            # Enabled inbound rules of the active store (local and GPO) with their port and address
            # filters, joined by InstanceID. Name is the rule's fixed ID; DisplayName is localised: evidence only.
            $ports = @{}
            Get-NetFirewallPortFilter -PolicyStore ActiveStore | ForEach-Object { $ports[$_.InstanceID] = $_ }
            $addresses = @{}
            Get-NetFirewallAddressFilter -PolicyStore ActiveStore | ForEach-Object { $addresses[$_.InstanceID] = $_ }
            $probe.firewall_rules = @(Get-NetFirewallRule -PolicyStore ActiveStore -Direction Inbound -Enabled True | ForEach-Object {
                    $port = $ports[$_.InstanceID]
                    $address = $addresses[$_.InstanceID]
                    @{
                        Name = [string]$_.Name
                        DisplayName = [string]$_.DisplayName
                        Action = [int]$_.Action
                        Profile = [int]$_.Profile
                        Protocol = [string]$port.Protocol
                        LocalPort = @($port.LocalPort | ForEach-Object { [string]$_ })
                        RemoteAddress = @($address.RemoteAddress | ForEach-Object { [string]$_ })
                    }
                })
        }
        'profiles' {
            # Local user profiles by SID (never by localised name) and the Default profile's folder.
            $probe.profiles = @(Get-CimInstance -ClassName Win32_UserProfile | ForEach-Object {
                    @{ SID = [string]$_.SID; LocalPath = [string]$_.LocalPath; Loaded = [bool]$_.Loaded; Special = [bool]$_.Special }
                })
            $probe.default_profile = [string](Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList').Default
        }
        'rsop' {
            # Registry values set by Group Policy, with the GPO that sets them (LocalGPO = local policy).
            $probe.rsop = @(Get-CimInstance -Namespace 'root/rsop/computer' -ClassName RSOP_RegistryPolicySetting -ErrorAction SilentlyContinue |
                    Select-Object -Property @('registryKey', 'valueName', 'valueType', 'value', 'GPOID', 'precedence', 'deleted'))
        }
        'secedit' {
            $export = [System.IO.Path]::GetTempFileName()
            try {
                $null = & secedit.exe @('/export', '/cfg', $export, '/areas', 'SECURITYPOLICY', 'USER_RIGHTS', '/quiet')
                if ($LASTEXITCODE -ne 0) {
                    $module.FailJson("secedit /export failed with exit code $LASTEXITCODE")
                }
                $probe.secedit_b64 = [System.Convert]::ToBase64String([System.IO.File]::ReadAllBytes($export))
            }
            finally {
                Remove-Item -LiteralPath $export -Force -ErrorAction SilentlyContinue
            }
        }
        'admins' {
            # Members of the local Administrators group, found by its well-known SID (its name is localised).
            try {
                $probe.admins = @(Get-LocalGroupMember -SID 'S-1-5-32-544' -ErrorAction Stop | ForEach-Object {
                        @{ Name = [string]$_.Name; SID = [string]$_.SID.Value; PrincipalSource = [string]$_.PrincipalSource }
                    })
            }
            catch {
                # Get-LocalGroupMember fails on a member it cannot resolve (orphaned or Entra ID SID): read the
                # member SIDs through ADSI instead, under the group's name as this host spells it.
                $groupSid = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-544'
                $groupName = $groupSid.Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
                $group = [ADSI]"WinNT://./$groupName,group"
                $probe.admins = @($group.Invoke('Members') | ForEach-Object {
                        $bytes = [byte[]]$_.GetType().InvokeMember('objectSid', 'GetProperty', $null, $_, $null)
                        $name = [string]$_.GetType().InvokeMember('Name', 'GetProperty', $null, $_, $null)
                        $sid = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList @($bytes, 0)
                        @{ Name = $name; SID = $sid.Value; PrincipalSource = $null }
                    })
            }
        }
        'audit_policy' {
            # The effective advanced audit policy: auditpol's backup file lists every subcategory by GUID
            # with a numeric Setting Value (0 none, 1 success, 2 failure, 3 both), whatever the language.
            $backup = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ("socle-auditpol-{0}.csv" -f [guid]::NewGuid())
            try {
                $null = & auditpol.exe @('/backup', "/file:$backup")
                if ($LASTEXITCODE -ne 0) {
                    $module.FailJson("auditpol /backup failed with exit code $LASTEXITCODE")
                }
                $probe.audit_policy_b64 = [System.Convert]::ToBase64String([System.IO.File]::ReadAllBytes($backup))
            }
            finally {
                Remove-Item -LiteralPath $backup -Force -ErrorAction SilentlyContinue
            }
        }
        'laps' {
            # Windows LAPS policy roots, in the order LAPS reads them (the first with any value wins), and
            # whether the device is joined to Entra ID (LAPS manages nothing on a workgroup PC).
            $roots = [ordered]@{
                csp = 'HKLM:\SOFTWARE\Microsoft\Policies\LAPS'
                gpo = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\LAPS'
                local = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\LAPS\Config'
                legacy = 'HKLM:\SOFTWARE\Policies\Microsoft Services\AdmPwd'
            }
            $found = @{}
            foreach ($root in $roots.Keys) {
                $values = @{}
                $key = Get-Item -LiteralPath $roots[$root] -ErrorAction SilentlyContinue
                if ($null -ne $key) {
                    foreach ($valueName in $key.GetValueNames()) { $values[$valueName] = $key.GetValue($valueName) }
                }
                $found[$root] = $values
            }
            $joinInfo = 'HKLM:\SYSTEM\CurrentControlSet\Control\CloudDomainJoin\JoinInfo'
            $probe.laps = @{
                roots = $found
                entra_joined = (@(Get-ChildItem -LiteralPath $joinInfo -ErrorAction SilentlyContinue).Count -gt 0)
            }
        }
        'users' {
            $probe.users = @(Get-LocalUser | ForEach-Object {
                    @{
                        Name = $_.Name
                        SID = $_.SID.Value
                        Enabled = [bool]$_.Enabled
                        PasswordRequired = [bool]$_.PasswordRequired
                        LastLogon = Get-DateText $_.LastLogon
                        PasswordLastSet = Get-DateText $_.PasswordLastSet
                    }
                })
        }
        'wu_history' {
            $searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()
            $count = $searcher.GetTotalHistoryCount()
            $probe.wu_history = @()
            if ($count -gt 0) {
                $probe.wu_history = @($searcher.QueryHistory(0, [Math]::Min($count, 200)) | ForEach-Object {
                        @{ Operation = [int]$_.Operation; ResultCode = [int]$_.ResultCode; Date = Get-UtcDateText $_.Date }
                    })
            }
        }
        'wu_pending' {
            # Searching does not download or install anything.
            $searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()
            $found = $searcher.Search("IsInstalled=0 and IsHidden=0 and Type='Software'")
            $probe.wu_pending = @($found.Updates | ForEach-Object {
                    @{
                        UpdateID = $_.Identity.UpdateID
                        KBArticleIDs = @($_.KBArticleIDs)
                        CategoryIDs = @($_.Categories | ForEach-Object { $_.CategoryID })
                        LastDeploymentChangeTime = Get-UtcDateText $_.LastDeploymentChangeTime
                    }
                })
        }
    }
}

$module.Result.probe = $probe
$module.ExitJson()
