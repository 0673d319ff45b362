; Inno Setup script for ParamScope on Windows: installs the one-folder bundle, a Start-menu entry,
; an uninstaller and file associations. Build on Windows after `make bundle` (or
; `pyinstaller packaging\paramscope.spec`) with:  iscc packaging\windows\paramscope.iss
; The version comes from the command line (iscc /DAppVersion=0.1.0 …) or defaults below.
;
; One ProgID per checkpoint type, so Explorer shows each type with its own name; ParamScope is
; added to each extension's "Open with" list (OpenWithProgids), as Inno Setup's documentation
; recommends: Windows then offers it on the first double-click and lets the user choose the default
; (Windows 10 and later ignore programs that set the default themselves). The same types are declared in packaging/linux/paramscope-mime.xml, the
; .desktop file and packaging/macos/Info.plist; tests/test_packaging.py keeps them in step.
; *.bin is not associated: it is the generic binary extension (see paramscope-mime.xml).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "ParamScope"
#define AppExe "ParamScope.exe"

[Setup]
AppId={{6E0B8F62-3A4F-4C2B-9E55-5A7C2D0F9B41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=ParamScope developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
; Qt 6 supports Windows 10 1809 (build 17763) and later.
MinVersion=10.0.17763
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
ChangesEnvironment=yes
LicenseFile=..\..\LICENSE
OutputDir=..\..\dist
OutputBaseFilename=ParamScope-{#AppVersion}-setup
SetupIconFile=..\..\resources\icons\paramscope.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the ""paramscope"" command to PATH (command line: paramscope info MODEL)"; GroupDescription: "Command line:"

[Files]
Source: "..\..\dist\ParamScope\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; The console build beside the windowed one (packaging/paramscope.spec builds both); `paramscope`
; on PATH is this small script in {app}\bin, which runs it. {app} itself is not put on PATH:
; there `paramscope` would find the windowed ParamScope.exe (names are case-insensitive).
Source: "paramscope.cmd"; DestDir: "{app}\bin"; Flags: ignoreversion

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; --- ProgIDs: one per type, each with its name, icon and open verb ---
Root: HKA; Subkey: "Software\Classes\ParamScope.safetensors"; ValueType: string; ValueName: ""; ValueData: "safetensors checkpoint"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\ParamScope.safetensors\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\ParamScope.safetensors\shell\open"; ValueType: string; ValueName: ""; ValueData: "Open with ParamScope"
Root: HKA; Subkey: "Software\Classes\ParamScope.safetensors\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""

Root: HKA; Subkey: "Software\Classes\ParamScope.pytorch"; ValueType: string; ValueName: ""; ValueData: "PyTorch checkpoint"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\ParamScope.pytorch\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\ParamScope.pytorch\shell\open"; ValueType: string; ValueName: ""; ValueData: "Open with ParamScope"
Root: HKA; Subkey: "Software\Classes\ParamScope.pytorch\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""

Root: HKA; Subkey: "Software\Classes\ParamScope.gguf"; ValueType: string; ValueName: ""; ValueData: "GGUF model"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\ParamScope.gguf\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\ParamScope.gguf\shell\open"; ValueType: string; ValueName: ""; ValueData: "Open with ParamScope"
Root: HKA; Subkey: "Software\Classes\ParamScope.gguf\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""

Root: HKA; Subkey: "Software\Classes\ParamScope.onnx"; ValueType: string; ValueName: ""; ValueData: "ONNX model"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\ParamScope.onnx\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\ParamScope.onnx\shell\open"; ValueType: string; ValueName: ""; ValueData: "Open with ParamScope"
Root: HKA; Subkey: "Software\Classes\ParamScope.onnx\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""

; --- Extensions: ParamScope in each one's "Open with" list ---
Root: HKA; Subkey: "Software\Classes\.safetensors\OpenWithProgids"; ValueType: string; ValueName: "ParamScope.safetensors"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.pt\OpenWithProgids"; ValueType: string; ValueName: "ParamScope.pytorch"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.pth\OpenWithProgids"; ValueType: string; ValueName: "ParamScope.pytorch"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.ckpt\OpenWithProgids"; ValueType: string; ValueName: "ParamScope.pytorch"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.gguf\OpenWithProgids"; ValueType: string; ValueName: "ParamScope.gguf"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.onnx\OpenWithProgids"; ValueType: string; ValueName: "ParamScope.onnx"; ValueData: ""; Flags: uninsdeletevalue

; --- The application itself, so "Open with" lists it with its name for these types ---
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".safetensors"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".pt"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".pth"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".ckpt"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".gguf"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".onnx"; ValueData: ""

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
// `paramscope` on PATH: the bin folder of the app is added to the user's PATH (per-user install)
// or the system's (all-users install) when the task is ticked, and removed again on uninstall.
const
  UserEnvironment = 'Environment';
  SystemEnvironment = 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment';

function EnvironmentRoot: Integer;
begin
  if IsAdminInstallMode then Result := HKEY_LOCAL_MACHINE else Result := HKEY_CURRENT_USER;
end;

function EnvironmentKey: String;
begin
  if IsAdminInstallMode then Result := SystemEnvironment else Result := UserEnvironment;
end;

function BinDir: String;
begin
  Result := ExpandConstant('{app}\bin');
end;

procedure AddBinDirToPath;
var
  Path: String;
begin
  if not RegQueryStringValue(EnvironmentRoot, EnvironmentKey, 'Path', Path) then Path := '';
  if Pos(';' + Uppercase(BinDir) + ';', ';' + Uppercase(Path) + ';') > 0 then Exit;
  if (Path <> '') and (Copy(Path, Length(Path), 1) <> ';') then Path := Path + ';';
  RegWriteExpandStringValue(EnvironmentRoot, EnvironmentKey, 'Path', Path + BinDir);
end;

procedure RemoveBinDirFromPath;
var
  Path: String;
  At: Integer;
begin
  if not RegQueryStringValue(EnvironmentRoot, EnvironmentKey, 'Path', Path) then Exit;
  Path := ';' + Path + ';';
  At := Pos(';' + Uppercase(BinDir) + ';', Uppercase(Path));
  if At = 0 then Exit;
  Delete(Path, At, Length(BinDir) + 1);
  Path := Copy(Path, 2, Length(Path) - 2);
  RegWriteExpandStringValue(EnvironmentRoot, EnvironmentKey, 'Path', Path);
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if (CurStep = ssPostInstall) and WizardIsTaskSelected('addtopath') then AddBinDirToPath;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then RemoveBinDirFromPath;
end;
