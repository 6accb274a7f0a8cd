"""`chaperone controller`: the service that alone holds the flag store's write credentials, the
pins, the revocations and a signed audit log, so the person the gate must hold cannot choose any
of them (issue 25)."""
