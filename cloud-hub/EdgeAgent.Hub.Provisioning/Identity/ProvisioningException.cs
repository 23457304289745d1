namespace EdgeAgent.Hub.Provisioning.Identity;

/// <summary>
/// A provisioning request cannot be carried out (device already exists, unknown device, unreadable
/// CA, broker not reloadable). The message tells the operator what to do; nothing was changed on disk
/// unless the message says so.
/// </summary>
public sealed class ProvisioningException(string message, Exception? inner = null) : Exception(message, inner);
