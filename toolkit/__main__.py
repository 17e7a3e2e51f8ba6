from musiclust.cli import main

main()
