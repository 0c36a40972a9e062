using System.Diagnostics;
using Npgsql;

namespace EventSourcedHub.Bench;

/// <summary>
/// The floor a hub's write path is compared with: what the same PostgreSQL does with the simplest durable write, one
/// single-row INSERT per transaction, at the same concurrency as the load.
/// </summary>
public static class InsertFloor
{
    /// <summary>Durable single-row INSERTs of a small jsonb row, one per transaction, from <paramref name="clients"/> connections.</summary>
    public static async Task<double> MeasureAsync(string connectionString, int clients, TimeSpan duration)
    {
        await using (var setup = new NpgsqlConnection(connectionString))
        {
            await setup.OpenAsync();
            await using var create = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, payload jsonb NOT NULL)", setup);
            await create.ExecuteNonQueryAsync();
        }
        long count = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand("INSERT INTO bench_floor (payload) VALUES ('{\"event\":\"org.example.bench\",\"n\":1}')", connection);
            while (clock.Elapsed < duration)
            {
                await insert.ExecuteNonQueryAsync();
                Interlocked.Increment(ref count);
            }
        })));
        return count / clock.Elapsed.TotalSeconds;
    }
}
