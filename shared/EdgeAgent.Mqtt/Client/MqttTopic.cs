namespace EdgeAgent.Mqtt;

/// <summary>
/// Topic name and topic filter rules (MQTT 5 §4.7, §4.8.2). Pure functions, thread safe, no allocation.
/// </summary>
public static class MqttTopic
{
    private const string SharePrefix = "$share/";

    /// <summary>A topic name for PUBLISH: non-empty, no wildcards, no U+0000 (§4.7.3).</summary>
    public static bool IsValidTopicName(string topic) =>
        topic.Length > 0 && topic.AsSpan().IndexOfAny('+', '#', '\0') < 0;

    /// <summary>
    /// A topic filter for SUBSCRIBE: '#' only as the whole last level, '+' only as a whole level
    /// (§4.7.1), and for shared subscriptions <c>$share/{ShareName}/{filter}</c> with a ShareName
    /// that is non-empty and has no '/', '+' or '#' (§4.8.2).
    /// </summary>
    public static bool IsValidTopicFilter(string filter)
    {
        ReadOnlySpan<char> f = filter;
        if (f.Length == 0 || f.IndexOf('\0') >= 0)
        {
            return false;
        }

        if (f.StartsWith(SharePrefix, StringComparison.Ordinal))
        {
            ReadOnlySpan<char> rest = f[SharePrefix.Length..];
            int slash = rest.IndexOf('/');
            if (slash <= 0 || rest[..slash].IndexOfAny('+', '#') >= 0)
            {
                return false;
            }

            f = rest[(slash + 1)..];
            if (f.Length == 0)
            {
                return false;
            }
        }

        for (int i = 0; i < f.Length; i++)
        {
            char c = f[i];
            if (c is not ('+' or '#'))
            {
                continue;
            }

            bool startsLevel = i == 0 || f[i - 1] == '/';
            bool endsLevel = i == f.Length - 1 || f[i + 1] == '/';
            if (!startsLevel || !endsLevel || (c == '#' && i != f.Length - 1))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True for <c>$share/{group}/{filter}</c>.</summary>
    public static bool IsSharedSubscription(string filter) => filter.StartsWith(SharePrefix, StringComparison.Ordinal);

    /// <summary>
    /// Whether a message published to <paramref name="topic"/> matches <paramref name="filter"/>
    /// (§4.7). A shared subscription matches like its inner filter. Topics starting with '$' are not
    /// matched by filters starting with a wildcard (§4.7.2). Both arguments are assumed valid;
    /// an invalid filter simply does not match.
    /// </summary>
    public static bool Matches(string filter, string topic)
    {
        ReadOnlySpan<char> f = filter;
        ReadOnlySpan<char> t = topic;
        if (f.StartsWith(SharePrefix, StringComparison.Ordinal))
        {
            ReadOnlySpan<char> rest = f[SharePrefix.Length..];
            int slash = rest.IndexOf('/');
            if (slash < 0)
            {
                return false;
            }

            f = rest[(slash + 1)..];
        }

        if (t.Length == 0 || f.Length == 0)
        {
            return false;
        }

        if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
        {
            return false;
        }

        while (true)
        {
            int fEnd = f.IndexOf('/');
            ReadOnlySpan<char> fLevel = fEnd < 0 ? f : f[..fEnd];
            if (fLevel.SequenceEqual("#"))
            {
                // '#' matches the parent level too: "sport/#" matches "sport" (§4.7.1.2).
                return true;
            }

            int tEnd = t.IndexOf('/');
            ReadOnlySpan<char> tLevel = tEnd < 0 ? t : t[..tEnd];
            if (!fLevel.SequenceEqual("+") && !fLevel.SequenceEqual(tLevel))
            {
                return false;
            }

            bool fLast = fEnd < 0;
            bool tLast = tEnd < 0;
            if (fLast && tLast)
            {
                return true;
            }

            if (tLast)
            {
                // Topic ended; the filter matches only if what remains is "/#".
                return f[(fEnd + 1)..].SequenceEqual("#");
            }

            if (fLast)
            {
                return false;
            }

            f = f[(fEnd + 1)..];
            t = t[(tEnd + 1)..];
        }
    }
}
