"""Canvas and beat: chains, chords, schedules, routes and queues."""
