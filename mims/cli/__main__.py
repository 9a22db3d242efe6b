from mims.cli import main

main()
