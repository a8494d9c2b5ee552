package io.ringformer.protocol;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.curator.framework.api.ACLProvider;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;

/**
 * The ACLs a client with {@link ZkAuth} credentials gives the nodes it creates, Curator's {@link ACLProvider} for
 * {@link ZkConnection#newClient}.
 *
 * <ul>
 *   <li>A job's nodes ({@code /ringformer/jobs/<job>} and everything under it: spec, latch, workers, generation,
 *       checkpoints, status): every permission for the credentials' digest id, none for the world. A client
 *       without the credentials gets {@code NoAuth} reading the spec, listing workers or writing anything.</li>
 *   <li>The shared parents {@code /ringformer} and {@code /ringformer/jobs}: the same, plus READ and CREATE for
 *       the world, so that jobs with other credentials (or none) can live beside it; the world cannot delete or
 *       rewrite them. Parents that already exist keep the ACL they were created with.</li>
 * </ul>
 */
final class DigestAcl implements ACLProvider {

    private final List<ACL> job;
    private final List<ACL> shared;

    DigestAcl(ZkAuth auth) {
        this.job = auth.creatorAll();
        List<ACL> parents = new ArrayList<>(job);
        parents.add(new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.CREATE, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        this.shared = Collections.unmodifiableList(parents);   // not List.copyOf: see ZkAuth.creatorAll
    }

    @Override
    public List<ACL> getDefaultAcl() {
        return job;
    }

    @Override
    public List<ACL> getAclForPath(String path) {
        return path.equals("/ringformer") || path.equals(ZkLayout.JOBS) ? shared : job;
    }
}
