"""The fleet: survival curves, the stock-flow by vintage and the IEA history."""
