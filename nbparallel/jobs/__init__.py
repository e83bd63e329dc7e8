"""The job machinery: the Job handle, one Attempt per execution, the Supervisor, the registry."""
