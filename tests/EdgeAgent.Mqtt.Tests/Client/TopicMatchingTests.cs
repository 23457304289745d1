namespace EdgeAgent.Mqtt.Tests.Client;

/// <summary>The matching table of MQTT 5 §4.7.1–§4.7.2, row by row.</summary>
public sealed class TopicMatchingTests
{
    [Theory]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/ranking", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true)]
    [InlineData("sport/#", "sport", true)]
    [InlineData("#", "sport/tennis", true)]
    [InlineData("#", "/", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1/tournament", false)]
    [InlineData("sport/+", "sport", false)]
    [InlineData("sport/+", "sport/", true)]
    [InlineData("+/+", "/finance", true)]
    [InlineData("/+", "/finance", true)]
    [InlineData("+", "/finance", false)]
    [InlineData("+", "finance", true)]
    [InlineData("#", "$SYS/broker/uptime", false)]
    [InlineData("+/monitor/Clients", "$SYS/monitor/Clients", false)]
    [InlineData("$SYS/#", "$SYS/broker/uptime", true)]
    [InlineData("$SYS/monitor/+", "$SYS/monitor/Clients", true)]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "A/b", false)]
    [InlineData("a/b", "a/b/", false)]
    [InlineData("a/+/c", "a//c", true)]
    [InlineData("$share/g/a/+", "a/x", true)]
    [InlineData("$share/g/#", "$SYS/x", false)]
    public void Filter_matches_topic_per_spec(string filter, string topic, bool expected)
    {
        Assert.True(MqttTopic.IsValidTopicFilter(filter), filter);
        Assert.Equal(expected, MqttTopic.Matches(filter, topic));
    }

    [Theory]
    [InlineData("sport/tennis#")]
    [InlineData("sport/tennis/#/ranking")]
    [InlineData("sport+")]
    [InlineData("+a")]
    [InlineData("")]
    [InlineData("$share/g")]
    [InlineData("$share//a")]
    [InlineData("$share/g+/a")]
    [InlineData("$share/g/")]
    public void Invalid_filters_are_refused(string filter) => Assert.False(MqttTopic.IsValidTopicFilter(filter));

    [Theory]
    [InlineData("a/+", false)]
    [InlineData("a/#", false)]
    [InlineData("", false)]
    [InlineData("/", true)]
    [InlineData("a b/ü", true)]
    public void Topic_names_have_no_wildcards_and_are_not_empty(string topic, bool valid) =>
        Assert.Equal(valid, MqttTopic.IsValidTopicName(topic));
}
