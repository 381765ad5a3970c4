"""Time in microseconds since the Unix epoch (int64), as the simulator and the recommender count it."""

US_PER_SECOND = 1_000_000
US_PER_HOUR = 3600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR
