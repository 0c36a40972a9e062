using System.Net;
using System.Net.Sockets;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>
/// A loopback TCP relay in front of the test PostgreSQL: a hub connected through it loses its database when the relay
/// is stopped (existing connections cut, new ones refused) or silenced (existing connections cut, new ones accepted and
/// never answered, as behind a dead route), and gets it back when it is started again on the same port.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly List<TcpClient> _connections = [];
    private TcpListener? _listener;
    private CancellationTokenSource _running = new();
    private Task _accepting = Task.CompletedTask;
    private volatile bool _silent;

    public TcpRelay(string host, int port)
    {
        _target = new IPEndPoint(Dns.GetHostAddresses(host).First(a => a.AddressFamily == AddressFamily.InterNetwork), port);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync(_listener, _running.Token);
    }

    public int Port { get; }

    /// <summary>A relay to the server of <paramref name="connectionString"/>.</summary>
    public static TcpRelay To(string connectionString)
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        return new TcpRelay(builder.Host!, builder.Port);
    }

    /// <summary><paramref name="connectionString"/>, pointed at this relay.</summary>
    public string Through(string connectionString) =>
        new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { Host = "127.0.0.1", Port = Port }.ConnectionString;

    public async Task StopAsync()
    {
        await _running.CancelAsync();
        _listener?.Stop();
        _listener = null;
        CutConnections();
        await _accepting;
    }

    public void Silence()
    {
        _silent = true;
        CutConnections();
    }

    public void Start()
    {
        _silent = false;
        if (_listener is not null) return;
        _running = new CancellationTokenSource();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        _accepting = AcceptAsync(_listener, _running.Token);
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var client = await listener.AcceptTcpClientAsync(ct);
                if (_silent)
                {
                    lock (_connections) _connections.Add(client);
                    continue;
                }
                var server = new TcpClient();
                await server.ConnectAsync(_target, ct);
                lock (_connections)
                {
                    _connections.Add(client);
                    _connections.Add(server);
                }
                _ = PumpAsync(client, server, ct);
                _ = PumpAsync(server, client, ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private void CutConnections()
    {
        lock (_connections)
        {
            foreach (var connection in _connections) connection.Dispose();
            _connections.Clear();
        }
    }

    private static async Task PumpAsync(TcpClient from, TcpClient to, CancellationToken ct)
    {
        try
        {
            await from.GetStream().CopyToAsync(to.GetStream(), ct);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // One side went away.
        }
        from.Dispose();
        to.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (_listener is not null) await StopAsync();
    }
}
