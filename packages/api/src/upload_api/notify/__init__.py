"""Delivery of outbox notifications to the ingestion service: the signed HTTP request, the optional
service-account JWT and the retry schedule. The dispatcher (`upload_api.workers.dispatcher`) decides
what to send and records the outcome."""
