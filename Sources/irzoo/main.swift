import ArgumentParser
print("irzoo")
