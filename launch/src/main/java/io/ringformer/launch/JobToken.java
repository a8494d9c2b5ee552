package io.ringformer.launch;

import io.ringformer.protocol.InputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;

/**
 * A job's token: the secret every worker proves at registration and every gradient frame's MAC is keyed from. It
 * is generated when absent (256 bits from {@link SecureRandom}); in a token file it is kept with mode 0600 — a file
 * others can read is refused — and it is never printed.
 */
final class JobToken {

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private JobToken() {}

    /** A new token. */
    static String generate() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /** The token in {@code file}, or a new one written there (0600) when the file does not exist. */
    static String of(Path file) {
        try {
            if (Files.notExists(file)) {
                String token = generate();
                Files.createDirectories(file.toAbsolutePath().getParent());
                Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
                Files.writeString(file, token + "\n");
                return token;
            }
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
            if (!OWNER_ONLY.containsAll(permissions)) {
                throw new InputException("token file " + file + " is readable by others ("
                        + PosixFilePermissions.toString(permissions) + "); chmod 600 " + file);
            }
            String token = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (token.length() < 16) {
                throw new InputException("token file " + file + " holds no token of at least 16 characters");
            }
            return token;
        } catch (FileAlreadyExistsException raced) {
            return of(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or write the token file " + file + ": " + e.getMessage(), e);
        }
    }
}
