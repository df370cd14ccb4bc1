"""The fraud handbook's transaction simulator (Le Borgne et al., 2022, chapter 3), our own code."""
