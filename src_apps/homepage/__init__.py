"""The workshop's landing page for the product launch, linking to the sign-up."""
