return EdgeAgent.Hub.HubCli.Run(args);
