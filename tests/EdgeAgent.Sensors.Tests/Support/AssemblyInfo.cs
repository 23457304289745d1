// These tests drive Linux kernel interfaces (FIFOs, ptys, Unix sockets, sysfs layouts).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
