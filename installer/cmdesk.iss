; Inno Setup script of cmdesk (Cuenta Maestra de escritorio): see docs/windows.md.
;
;   iscc installer\cmdesk.iss                          ; after `pyinstaller installer\cmdesk.spec`
;   iscc /DAppVersion=0.2.0 /DBuildDir=C:\b\dist\cmdesk installer\cmdesk.iss
;
; Checked on Linux with the real compiler under Wine (scripts/check-windows.sh): any error or warning
; fails the project's test command.
;
; - Per-user install without administrator rights (PrivilegesRequired=lowest: %LOCALAPPDATA%\Programs),
;   which the user may override to all users (Program Files) in a dialog or with /ALLUSERS.
; - Spanish wizard; Start-menu shortcut and an optional desktop one.
; - A fixed AppId: a new version replaces the old one in place (its _internal folder is removed
;   first, so no stale library of the old build lingers).
; - Updates run unattended: cmdesk starts this installer with
;     /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /CLOSEAPPLICATIONS /LOG=... /relaunch=1
;   and quits; the installer waits for cmdesk's mutex to go away (AppMutex; Restart Manager closes it
;   if it is still running), installs, and with /relaunch=1 starts cmdesk again.
; - The uninstaller keeps the user's data (%LOCALAPPDATA%\Induxsoft\cmdesk: caches, outbox of
;   changes not yet sent, logs, the embedded server's database) unless the user ticks the box on its
;   first page, or passes /deletedata=1 to a silent uninstall.
; - The version comes from the build: cmdesk.exe's version resource, which installer/version_info.py
;   makes from cmdesk.__version__ (or /DAppVersion=...).
; - Signing: compiled with /DUseSignTool and /Scmdesksign="signtool sign ... $f", Inno signs the
;   installer and its uninstaller (the CI does so when the signing secrets exist).

#define AppName "Cuenta Maestra (cmdesk)"
#define AppShortName "cmdesk"
#define AppPublisher "Induxsoft"
#define AppURL "http://www.induxsoft.net/"
#define AppExeName "cmdesk.exe"
; Must match cmdesk.services.frozen.APP_MUTEX (the app holds it while it runs).
#define AppMutexName "Induxsoft.cmdesk.AppMutex"
; Must match the AppUserModelID the app sets (cmdesk.ui.app._windows_app_id): taskbar grouping and pins.
#define AppUserModelID "Induxsoft.cmdesk"
; Seconds a silent update waits for cmdesk to quit before Restart Manager steps in.
#define QuitWaitSeconds 60

; This file is UTF-8 without a byte order mark, which Inno Setup reads as such from 6.3 on.
#if Ver < EncodeVer(6, 3, 0)
  #error Se necesita Inno Setup 6.3 o posterior (este script es UTF-8 sin BOM)
#endif

#ifndef BuildDir
  #define BuildDir AddBackslash(SourcePath) + "..\dist\cmdesk"
#endif
#if !FileExists(BuildDir + "\" + AppExeName)
  #error No existe cmdesk.exe en BuildDir: compile antes con PyInstaller (installer\cmdesk.spec)
#endif
#ifndef AppVersion
  #define AppVersion GetStringFileInfo(BuildDir + "\" + AppExeName, "ProductVersion")
#endif
#if AppVersion == ""
  #error cmdesk.exe no tiene versión: compile con /DAppVersion=X.Y.Z
#endif
#ifndef AppNumericVersion
  #define AppNumericVersion GetVersionNumbersString(BuildDir + "\" + AppExeName)
#endif
#if AppNumericVersion == ""
  #error cmdesk.exe no tiene versión numérica: compile con /DAppNumericVersion=X.Y.Z.W
#endif
; The same text as cmdesk.exe's version resource (installer/version_info.py, COPYRIGHT).
#define AppCopyright "© Induxsoft. Todos los derechos reservados."

[Setup]
; Never change AppId: it is how a new version finds (and replaces) the installed one.
AppId={{6F0C3B9E-2D4A-4E7B-9A51-C8D2E7F41B63}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
AppPublisherURL={#AppURL}
AppCopyright={#AppCopyright}
AppSupportURL={#AppURL}
VersionInfoVersion={#AppNumericVersion}
VersionInfoProductVersion={#AppNumericVersion}
VersionInfoProductTextVersion={#AppVersion}
VersionInfoCompany={#AppPublisher}
VersionInfoCopyright={#AppCopyright}
VersionInfoDescription=Instalador de {#AppName}
DefaultDirName={autopf}\Induxsoft\cmdesk
DefaultGroupName=Induxsoft
DisableProgramGroupPage=yes
UsePreviousAppDir=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\dist
OutputBaseFilename=cmdesk-setup-{#AppVersion}
SetupIconFile=cmdesk.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
WizardStyle=modern
#ifdef CheckCompile
; scripts/check-windows.sh checks the script, not the packing: it skips the slow maximum compression
; (minutes on two cores) and changes nothing else.
Compression=none
SolidCompression=no
#else
Compression=lzma2/max
SolidCompression=yes
#endif
ShowLanguageDialog=no
; Updates: find the running app by its mutex; in silent mode close it through Restart Manager.
; cmdesk relaunches itself through [Run] (/relaunch=1), not through Restart Manager.
AppMutex={#AppMutexName},Global\{#AppMutexName}
SetupMutex=Induxsoft.cmdesk.SetupMutex,Global\Induxsoft.cmdesk.SetupMutex
CloseApplications=yes
RestartApplications=no
#ifdef UseSignTool
SignTool=cmdesksign
SignedUninstaller=yes
#endif

[Languages]
Name: "spanish"; MessagesFile: "compiler:Languages\Spanish.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; The previous build's libraries: a new version must not run with a leftover DLL of the old one.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BuildDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"; AppUserModelID: "{#AppUserModelID}"; Comment: "La Cuenta Maestra de Induxsoft en su escritorio"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; AppUserModelID: "{#AppUserModelID}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppShortName}}"; Flags: nowait postinstall skipifsilent
; A silent update started by cmdesk itself (/relaunch=1) opens it again, as the user who started it.
Filename: "{app}\{#AppExeName}"; Flags: nowait runasoriginaluser; Check: RelaunchAfterUpdate

[Code]
const
  DataFolder = '{localappdata}\Induxsoft\cmdesk';
  SettingsKey = 'Software\Induxsoft\cmdesk';

var
  DeleteUserData: Boolean;

function AppRunning(): Boolean;
begin
  Result := CheckForMutexes('{#AppMutexName}');
end;

{ cmdesk quits right after starting a silent update; give it time before AppMutex is checked. }
function WaitForAppToQuit(Seconds: Integer): Boolean;
var
  Waited: Integer;
begin
  Waited := 0;
  while AppRunning() and (Waited < Seconds * 4) do
  begin
    Sleep(250);
    Waited := Waited + 1;
  end;
  Result := not AppRunning();
  if not Result then
    Log('cmdesk sigue abierto después de esperar; Restart Manager intentará cerrarlo.');
end;

function InitializeSetup(): Boolean;
begin
  Result := True;
  if WizardSilent() then
    WaitForAppToQuit({#QuitWaitSeconds});
end;

function RelaunchAfterUpdate(): Boolean;
begin
  Result := WizardSilent() and (ExpandConstant('{param:relaunch|0}') = '1');
end;

{ The uninstaller's first page: keep the data (the default) or delete it too. }
function AskDeleteUserData(): Boolean;
var
  Form: TSetupForm;
  Info: TNewStaticText;
  Check: TNewCheckBox;
  OkButton, CancelButton: TNewButton;
begin
#if Ver >= EncodeVer(6, 6, 0)
  Form := CreateCustomForm(460, 200, False, False);
#else
  Form := CreateCustomForm();
  Form.ClientWidth := ScaleX(460);
  Form.ClientHeight := ScaleY(200);
#endif
  try
    Form.Caption := 'Desinstalar {#AppName}';

    Info := TNewStaticText.Create(Form);
    Info.Parent := Form;
    Info.Left := ScaleX(16);
    Info.Top := ScaleY(16);
    Info.Width := Form.ClientWidth - ScaleX(32);
    Info.WordWrap := True;
    Info.AutoSize := True;
    Info.Caption :=
      'Se quitará cmdesk de este equipo. Sus datos se conservan para cuando vuelva a instalarlo: ' +
      'la copia local de su cartera, los cambios que aún no se envían al servidor, los registros ' +
      'y la base de datos del servidor integrado (' + ExpandConstant(DataFolder) + ').';

    Check := TNewCheckBox.Create(Form);
    Check.Parent := Form;
    Check.Left := ScaleX(16);
    Check.Top := Info.Top + Info.Height + ScaleY(16);
    Check.Width := Form.ClientWidth - ScaleX(32);
    Check.Height := ScaleY(20);
    Check.Caption := 'Eliminar también mis datos (se perderán los cambios no enviados)';
    Check.Checked := False;

    CancelButton := TNewButton.Create(Form);
    CancelButton.Parent := Form;
    CancelButton.Width := ScaleX(90);
    CancelButton.Height := ScaleY(26);
    CancelButton.Left := Form.ClientWidth - ScaleX(16) - CancelButton.Width;
    CancelButton.Top := Form.ClientHeight - ScaleY(16) - CancelButton.Height;
    CancelButton.Caption := 'Cancelar';
    CancelButton.ModalResult := mrCancel;
    CancelButton.Cancel := True;

    OkButton := TNewButton.Create(Form);
    OkButton.Parent := Form;
    OkButton.Width := ScaleX(90);
    OkButton.Height := ScaleY(26);
    OkButton.Left := CancelButton.Left - ScaleX(8) - OkButton.Width;
    OkButton.Top := CancelButton.Top;
    OkButton.Caption := 'Desinstalar';
    OkButton.ModalResult := mrOk;
    OkButton.Default := True;

    Form.ActiveControl := OkButton;
    Result := Form.ShowModal() = mrOk;
    if Result then
      DeleteUserData := Check.Checked;
  finally
    Form.Free();
  end;
end;

function InitializeUninstall(): Boolean;
begin
  Result := True;
  { Silent uninstalls keep the data unless told otherwise (/deletedata=1). }
  DeleteUserData := ExpandConstant('{param:deletedata|0}') = '1';
  if not UninstallSilent() then
    Result := AskDeleteUserData();
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if (CurUninstallStep = usPostUninstall) and DeleteUserData then
  begin
    Log('Eliminando los datos del usuario: ' + ExpandConstant(DataFolder));
    DelTree(ExpandConstant(DataFolder), True, True, True);
    { The window's size and position (QSettings). }
    RegDeleteKeyIncludingSubkeys(HKCU, SettingsKey);
  end;
end;
