@echo off
rem `paramscope` on PATH (installed in {app}\bin by paramscope.iss): runs the console build,
rem paramscope-cli.exe, so that `paramscope info MODEL` prints in cmd and PowerShell and returns
rem its exit status. ParamScope.exe itself is windowed and detaches from the console.
"%~dp0..\paramscope-cli.exe" %*
exit /b %ERRORLEVEL%
