"""Start the project's real services (mosquitto, influxd, postgres) on free local ports in temp dirs."""
