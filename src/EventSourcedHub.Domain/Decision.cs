namespace EventSourcedHub.Domain;

/// <summary>Either a value or the <see cref="Rejection"/> that explains why there is none.</summary>
public readonly struct Decision<T>
{
    private Decision(T? value, Rejection? rejection)
    {
        Value = value;
        Rejection = rejection;
    }

    public T? Value { get; }
    public Rejection? Rejection { get; }
    public bool IsRejected => Rejection is not null;

    public static implicit operator Decision<T>(T value) => new(value, null);
    public static implicit operator Decision<T>(Rejection rejection) => new(default, rejection);
}
