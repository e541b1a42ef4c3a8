from opsgate.cli.app import main

main()
