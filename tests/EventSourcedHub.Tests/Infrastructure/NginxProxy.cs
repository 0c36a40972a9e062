using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>
/// nginx (the Debian package; .ci/run installs it) as the reverse proxy in front of several hub processes, on a loopback
/// port of its own, with its own folder: round robin over the hubs for HTTP and WebSocket alike, proxied with the same
/// deploy/nginx/hub-proxy.conf that docker-compose.yml uses.
/// </summary>
public sealed class NginxProxy : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _folder;

    private NginxProxy(Process process, DirectoryInfo folder, int port)
    {
        _process = process;
        _folder = folder;
        Client = new HubClient(new Uri($"http://127.0.0.1:{port}"));
    }

    public HubClient Client { get; }

    public static async Task<NginxProxy> StartAsync(IEnumerable<int> hubPorts)
    {
        var nginx = new[] { "/usr/sbin/nginx", "/usr/bin/nginx" }.FirstOrDefault(File.Exists)
                    ?? throw new InvalidOperationException("nginx is not installed (apt-get install -y nginx; .ci/run installs it).");
        var folder = Directory.CreateTempSubdirectory("hub-nginx-");
        var port = FreePort();
        var upstreams = string.Join("\n", hubPorts.Select(p => $"    server 127.0.0.1:{p};"));
        var config = Path.Combine(folder.FullName, "nginx.conf");
        await File.WriteAllTextAsync(config, $$"""
            daemon off;
            worker_processes 1;
            pid {{folder.FullName}}/nginx.pid;
            error_log {{folder.FullName}}/error.log warn;
            events { worker_connections 1024; }
            http {
              access_log off;
              client_body_temp_path {{folder.FullName}}/body;
              proxy_temp_path {{folder.FullName}}/proxy;
              fastcgi_temp_path {{folder.FullName}}/fastcgi;
              uwsgi_temp_path {{folder.FullName}}/uwsgi;
              scgi_temp_path {{folder.FullName}}/scgi;
              map $http_upgrade $connection_upgrade { default upgrade; '' close; }
              upstream hubs {
            {{upstreams}}
              }
              server {
                listen 127.0.0.1:{{port}};
                location / {
                  include {{Path.Combine(Repository.Root(), "deploy", "nginx", "hub-proxy.conf")}};
                }
              }
            }
            """);
        var start = new ProcessStartInfo(nginx) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-p", folder.FullName, "-c", config, "-e", Path.Combine(folder.FullName, "startup.log") }) start.ArgumentList.Add(arg);
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[nginx] {e.Data}"); };
        process.BeginErrorReadLine();
        var proxy = new NginxProxy(process, folder, port);
        for (var i = 0; i < 100; i++)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"nginx exited with code {process.ExitCode}: {await ReadAsync(folder, "startup.log")}{await ReadAsync(folder, "error.log")}");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return proxy;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        await proxy.DisposeAsync();
        throw new TimeoutException("nginx did not listen within 5 s.");
    }

    private static async Task<string> ReadAsync(DirectoryInfo folder, string file) =>
        File.Exists(Path.Combine(folder.FullName, file)) ? await File.ReadAllTextAsync(Path.Combine(folder.FullName, file)) : "";

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
