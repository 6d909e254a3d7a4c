"""connexion operation handlers: read the request, call a service, shape the response. Nothing else."""
