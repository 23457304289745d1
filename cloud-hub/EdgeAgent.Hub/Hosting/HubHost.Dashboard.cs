using EdgeAgent.Hub.Dashboard;
using EdgeAgent.Hub.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeAgent.Hub.Hosting;

public static partial class HubHost
{
    static partial void AddDashboard(WebApplicationBuilder builder, HubOptions options, IHubStore store, TimeProvider time)
    {
        builder.Services.AddSingleton<DashboardAssets>();
        builder.Services.AddSingleton<DashboardQueries>();
        builder.Services.AddSingleton<HubMetrics>();
    }

    static partial void MapDashboard(WebApplication app) =>
        app.MapDashboardEndpoints(app.Services.GetRequiredService<DashboardAssets>(), app.Services.GetRequiredService<DashboardQueries>(),
            app.Services.GetRequiredService<HubMetrics>(), app.Services.GetRequiredService<HubOptions>());
}
