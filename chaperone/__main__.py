from chaperone.cli import main

main()
