"""The save handler: takes sign-up events off the queue and saves the prospects."""
