"""Revenue file formats: Stripe's dashboard exports, read into Stripe API objects (`stripe_csv.py`)."""
