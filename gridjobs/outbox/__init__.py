"""The outbox at work: the relay that turns events into webhook deliveries, the
workers that send them, the hub that feeds event streams, and the janitor that
keeps the tables within their retention. `service.open_outbox` owns them all."""
