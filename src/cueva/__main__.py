from cueva.cli import main

main()
