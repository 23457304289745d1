return await EdgeAgent.Hub.Cli.HubCli.RunAsync(args);
