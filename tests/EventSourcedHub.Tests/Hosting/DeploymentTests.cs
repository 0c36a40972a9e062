using System.Text.RegularExpressions;
using EventSourcedHub.Tests.Infrastructure;

namespace EventSourcedHub.Tests.Hosting;

/// <summary>
/// docker-compose.yml cannot run here (no Docker engine): these checks keep it consistent with what the multi-process
/// tests run (issue 14): the same nginx proxying, two hub processes on one PostgreSQL, and settings the hub knows.
/// </summary>
public sealed partial class DeploymentTests
{
    private static string Read(params string[] path) => File.ReadAllText(Path.Combine([Repository.Root(), .. path]));

    [Fact]
    public void compose_runs_two_hub_processes_on_one_postgres_behind_nginx_with_the_proxying_the_tests_use()
    {
        var compose = Read("docker-compose.yml");
        foreach (var service in new[] { "postgres:", "hub1:", "hub2:", "nginx:" }) Assert.Contains($"\n  {service}", compose);
        Assert.Contains("./deploy/nginx/hub-proxy.conf:/etc/nginx/hub-proxy.conf", compose);
        Assert.Contains("./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf", compose);
        Assert.Contains("\"127.0.0.1:5080:80\"", compose);

        var nginx = Read("deploy", "nginx", "nginx.conf");
        Assert.Contains("server hub1:5080;", nginx);
        Assert.Contains("server hub2:5080;", nginx);
        Assert.Contains("include /etc/nginx/hub-proxy.conf;", nginx);
        Assert.Contains("map $http_upgrade $connection_upgrade", nginx);
        Assert.Contains("proxy_set_header Upgrade $http_upgrade;", Read("deploy", "nginx", "hub-proxy.conf"));
        Assert.Contains("hub-proxy.conf", Read("tests", "EventSourcedHub.Tests", "Infrastructure", "NginxProxy.cs"));
    }

    [Fact]
    public void every_hub_setting_in_compose_is_a_setting_the_hub_binds()
    {
        var keys = HubSetting().Matches(Read("docker-compose.yml")).Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.NotEmpty(keys);
        foreach (var key in keys)
        {
            var type = typeof(HubOptions);
            foreach (var part in key.Split("__"))
            {
                var property = type.GetProperty(part);
                Assert.True(property is not null, $"docker-compose.yml sets Hub__{key}, which HubOptions does not have");
                type = property.PropertyType;
            }
        }
    }

    [GeneratedRegex(@"\bHub__([A-Za-z_]+):")]
    private static partial Regex HubSetting();
}
