; traymail installer (NSIS 3, built on Linux by scripts/build-windows; do not run makensis by hand)
; Per-user: no admin rights, %LOCALAPPDATA%\Programs\traymail, Start-menu shortcut for the user.
; Defines from build.py: VERSION VIVERSION STAGE OUTFILE APPID SHORTCUT_TOOL
Unicode true
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel user
SetCompressor /SOLID lzma
SetCompressorDictSize 32

!define NAME "traymail"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${NAME}"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define APPROVED_KEY "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
!define SHORTCUT "$SMPROGRAMS\${NAME}.lnk"

Name "${NAME} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${NAME}"
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
BrandingText "${NAME} ${VERSION}"

VIProductVersion "${VIVERSION}"
VIAddVersionKey "ProductName" "${NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${NAME} setup: POP3 mail notifier for the system tray"
VIAddVersionKey "LegalCopyright" "MIT License"

!include "MUI2.nsh"
!include "LogicLib.nsh"

!define MUI_ICON "${STAGE}\traymail.ico"
!define MUI_UNICON "${STAGE}\traymail.ico"
!define MUI_FINISHPAGE_RUN "$INSTDIR\python\pythonw.exe"
!define MUI_FINISHPAGE_RUN_PARAMETERS "-m traymail"
!define MUI_FINISHPAGE_RUN_TEXT "Start traymail"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; ask a running traymail to quit, so its files can be replaced or removed
!macro QuitRunning
  ${If} ${FileExists} "$INSTDIR\python\python.exe"
    DetailPrint "Asking a running traymail to quit"
    nsExec::Exec '"$INSTDIR\python\python.exe" -m traymail --quit'
    Pop $0
  ${EndIf}
!macroend

; remove the runtime; the app answers --quit before it has exited, and files in use
; cannot be deleted on Windows: retry for up to 30 s
!macro RemoveRuntime
  StrCpy $1 0
  ${Do}
    RMDir /r "$INSTDIR\python"
    ${IfNot} ${FileExists} "$INSTDIR\python\*.*"
      ${ExitDo}
    ${EndIf}
    Sleep 500
    IntOp $1 $1 + 1
  ${LoopUntil} $1 >= 60
  ${If} ${FileExists} "$INSTDIR\python\*.*"
    DetailPrint "Some files in $INSTDIR\python are in use (is traymail still running?)"
    SetErrorLevel 2
  ${EndIf}
!macroend

Section "traymail" SecMain
  SetShellVarContext current
  !insertmacro QuitRunning
  ; an upgrade replaces the whole runtime: no stale packages from the old version
  !insertmacro RemoveRuntime
  SetOutPath "$INSTDIR"
  File /r "${STAGE}\*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; the shortcut starts pythonw.exe (no console window); its AppUserModelID must equal the
  ; one the app sets for itself, or Windows does not show the app's toasts as "traymail"
  CreateShortCut "${SHORTCUT}" "$INSTDIR\python\pythonw.exe" "-m traymail" \
      "$INSTDIR\traymail.ico" 0 SW_SHOWNORMAL "" "POP3 mail notifier for the system tray"
  InitPluginsDir
  File "/oname=$PLUGINSDIR\shortcut_aumid.py" "${SHORTCUT_TOOL}"
  nsExec::ExecToLog '"$INSTDIR\python\python.exe" -I "$PLUGINSDIR\shortcut_aumid.py" "${SHORTCUT}" ${APPID}'
  Pop $0
  ${If} $0 != 0
    DetailPrint "Could not set the shortcut's AppUserModelID (exit $0); toasts may show as Python"
    SetErrorLevel 3
  ${EndIf}

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${NAME}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "traymail"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\traymail.ico"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  SetShellVarContext current
  !insertmacro QuitRunning
  ; "Start with Windows" and its Task Manager switch; the app's AUMID registration
  DeleteRegValue HKCU "${RUN_KEY}" "${NAME}"
  DeleteRegValue HKCU "${APPROVED_KEY}" "${NAME}"
  DeleteRegKey HKCU "Software\Classes\AppUserModelId\${APPID}"
  Delete "${SHORTCUT}"
  ; only what the installer put there (the folder may have been chosen by the user);
  ; settings, state, logs and downloads live in %APPDATA% / %LOCALAPPDATA%\traymail: kept
  !insertmacro RemoveRuntime
  Delete "$INSTDIR\traymail.ico"
  Delete "$INSTDIR\settings.json.example"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINST_KEY}"
SectionEnd
