using EdgeAgent.Hub.Releases;
using EdgeAgent.Hub.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Hosting;

public static partial class HubHost
{
    /// <summary>
    /// Release signing (Releases/README.md): the online keys are loaded here so a bad trust directory stops
    /// the hub at start with one clear line. Registers <see cref="ReleaseSigner"/> (also as the
    /// <see cref="IDeviceAssignmentPublisher"/> singleton rollouts use), the fleet hint and the re-sign loop.
    /// </summary>
    static partial void AddReleases(WebApplicationBuilder builder, HubOptions options, IHubStore store, TimeProvider time)
    {
        OnlineTrustKeys? keys = null;
        if (options.TrustDirectory is { } dir)
        {
            try
            {
                keys = OnlineTrustKeys.Load(dir);
            }
            catch (TrustKeyException e)
            {
                throw new HubConfigurationException([$"--trust-dir: {e.Message}"]);
            }
            builder.Services.AddSingleton(_ => keys); // factory registration: disposed with the container
        }
        builder.Services.AddSingleton(new ArtifactCache(options.ArtifactCacheBytes));
        builder.Services.AddSingleton<FleetHintPublisher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FleetHintPublisher>());
        builder.Services.AddSingleton(sp => new ReleaseSigner(store, keys, RoleLifetimes.From(options), time,
            sp.GetRequiredService<FleetHintPublisher>(), sp.GetRequiredService<ILogger<ReleaseSigner>>()));
        builder.Services.AddSingleton<IDeviceAssignmentPublisher>(sp => sp.GetRequiredService<ReleaseSigner>());
        builder.Services.AddHostedService<MetadataResignService>();
    }

    static partial void MapReleases(WebApplication app)
    {
        var store = app.Services.GetRequiredService<IHubStore>();
        app.MapTufRepository(store, app.Services.GetRequiredService<ArtifactCache>());
        app.MapReleaseApi(store, app.Services.GetRequiredService<ReleaseSigner>());
    }
}
