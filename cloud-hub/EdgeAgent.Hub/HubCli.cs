namespace EdgeAgent.Hub;

/// <summary>The <c>edgehub</c> command line.</summary>
public static class HubCli
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("edgehub: no commands yet");
        return 1;
    }
}
