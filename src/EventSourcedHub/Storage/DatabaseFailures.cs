using System.Net.Sockets;
using Npgsql;

namespace EventSourcedHub.Storage;

/// <summary>Failures that mean "the database cannot be reached right now" rather than "this request is wrong".</summary>
public static class DatabaseFailures
{
    /// <summary>
    /// Connection refused or lost, a time-out, the server shutting down or starting up, no connection slots:
    /// anywhere in the chain of inner exceptions.
    /// </summary>
    public static bool IsUnavailable(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException p:
                    // 08: connection exceptions; 57P01-03: shut down by an administrator or a crash, starting up; 53300: too many connections.
                    return p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState is "57P01" or "57P02" or "57P03" or "53300";
                case NpgsqlException:
                case TimeoutException:
                case SocketException:
                    return true;
                case AggregateException { InnerExceptions.Count: > 0 } many:
                    return many.InnerExceptions.Any(IsUnavailable);
            }
        }
        return false;
    }

    /// <summary>
    /// PostgreSQL refused the data itself (class 22, data exception: e.g. a NUL in text or jsonb, an invalid escape); the
    /// same write will fail again, whatever the retries.
    /// </summary>
    public static bool IsBadData(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is PostgresException p) return p.SqlState.StartsWith("22", StringComparison.Ordinal);
            // Npgsql refuses some text before sending it (e.g. a lone surrogate it cannot encode).
            if (e is System.Text.EncoderFallbackException or ArgumentException { InnerException: System.Text.EncoderFallbackException }) return true;
        }
        return false;
    }
}
