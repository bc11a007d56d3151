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
            choices = @('identity', 'system', 'defender', 'av_products', 'firewall', 'rsop', 'secedit', 'users', 'wu_history', 'wu_pending')
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
        'users' {
            $probe.users = @(Get-LocalUser | ForEach-Object {
                    @{ Name = $_.Name; SID = $_.SID.Value; Enabled = [bool]$_.Enabled; PasswordRequired = [bool]$_.PasswordRequired }
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
