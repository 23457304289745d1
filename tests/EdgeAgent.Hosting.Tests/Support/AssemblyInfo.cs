// The agent runs on Linux only (systemd, Unix sockets, file modes); so do its tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
